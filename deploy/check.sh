#!/usr/bin/env bash
# Checks the deployment files under deploy/ without Docker and without a running systemd, in a
# few seconds. Run it alone (`deploy/check.sh`) or through .ci/run.
#
#   - nginx -t on the Nginx site, inside a throwaway nginx.conf, with a throwaway self-signed
#     certificate (nginx is not started; it binds its ports for a moment but never listens);
#   - systemd-analyze verify on a copy of the unit whose ExecStart names /bin/true (verify
#     refuses a missing binary), failing on every complaint about the unit, and an offline
#     hardening score that must stay at or below 2.0;
#   - the Grafana dashboard, the compose file and the Prometheus example parse, and name only
#     metrics hufu exports.
#
# Installs nginx, systemd and openssl from Debian's packages when they are missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
fail() { echo "deploy/check.sh: $*" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "nginx -t deploy/nginx/hufu.conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=hufu.test \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
sed -E -e "s|^([[:space:]]*ssl_certificate)[[:space:]]+[^;]+;|\1 $tmp/cert.pem;|" \
       -e "s|^([[:space:]]*ssl_certificate_key)[[:space:]]+[^;]+;|\1 $tmp/key.pem;|" \
       deploy/nginx/hufu.conf > "$tmp/hufu.conf"
grep -q "ssl_certificate $tmp/cert.pem;" "$tmp/hufu.conf" || fail "no ssl_certificate line to point at the test certificate"
# nginx -t binds the listening addresses for a moment (without listening; an address in use is
# no error), so it needs what binding needs: root for ports below 1024, and IPv6 for [::].
if [ "$(id -u)" -ne 0 ]; then
  echo "note: not root, so the copy listens on 18080/18443 instead of 80/443"
  sed -i -E -e 's/^([[:space:]]*listen[[:space:]]+(\[::\]:)?)80([[:space:];])/\118080\3/' \
            -e 's/^([[:space:]]*listen[[:space:]]+(\[::\]:)?)443([[:space:];])/\118443\3/' "$tmp/hufu.conf"
fi
if [ ! -e /proc/net/if_inet6 ]; then
  echo "note: no IPv6 here, so the copy drops its [::] listen lines"
  sed -i -E '/^[[:space:]]*listen[[:space:]]+\[::\]/d' "$tmp/hufu.conf"
fi
# Everything Nginx would write goes to the temp dir, so this needs no root and leaves no trace.
cat > "$tmp/nginx.conf" <<EOF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/hufu.conf;
}
EOF
nginx -t -q -p "$tmp" -e "$tmp/error.log" -c "$tmp/nginx.conf" || fail "nginx -t refused deploy/nginx/hufu.conf"
echo "ok ($(nginx -v 2>&1))"

say "systemd-analyze verify deploy/hufu.service"
mkdir "$tmp/unit"
unit="$tmp/unit/hufu.service"
sed -E 's|^ExecStart=/usr/local/bin/hufu([[:space:]]\|$)|ExecStart=/bin/true\1|' deploy/hufu.service > "$unit"
grep -q '^ExecStart=/bin/true' "$unit" || fail "deploy/hufu.service has no ExecStart=/usr/local/bin/hufu line"
set +e
out=$(systemd-analyze verify --man=no "$unit" 2>&1)
status=$?
set -e
# verify reports most unit mistakes (unknown keys, bad values) on stderr but still exits 0, so
# every line naming the unit counts as an error. Other lines are about the machine (a container
# not booted with systemd, units it lacks) and are shown but tolerated.
unit_errors=$(grep -F 'hufu.service' <<<"$out" || true)
other=$(grep -vF 'hufu.service' <<<"$out" || true)
[ -z "$other" ] || printf 'note (environment, ignored):\n%s\n' "$other"
if [ -n "$unit_errors" ] || [ "$status" -ne 0 ]; then
  printf '%s\n' "${unit_errors:-$out}" >&2
  fail "systemd-analyze verify refused deploy/hufu.service (exit $status)"
fi
echo "ok ($(systemd-analyze --version | head -n1))"
version=$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
if [ "${version:-0}" -ge 250 ]; then
  # Exposure is scaled by ten: 20 means an overall level of at most 2.0 ("OK").
  set +e
  score=$(systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" 2>&1)
  status=$?
  set -e
  grep 'Overall exposure' <<<"$score" || true
  [ "$status" -eq 0 ] || { printf '%s\n' "$score" | grep '✗' >&2 || true; fail "the unit's hardening got weaker (exposure above 2.0)"; }
else
  echo "systemd $version has no offline security check; skipped"
fi

say "dashboard, compose file and Prometheus example"
python3 - deploy/grafana/hufu-dashboard.json <<'EOF'
import json, re, sys
# The metric names of the HTTP contract (section 9).
KNOWN = {"hufu_http_requests_total", "hufu_http_request_duration_seconds", "hufu_logins_total",
         "hufu_cache_requests_total", "hufu_password_hash_queue_depth",
         "hufu_password_hash_duration_seconds", "hufu_wechat_requests_total",
         "hufu_db_pool_connections"}
path = sys.argv[1]
try:
    d = json.load(open(path))
except ValueError as e:
    sys.exit(f"{path}: not valid JSON: {e}")
errors = []
if not any(i.get("name") == "DS_PROMETHEUS" for i in d.get("__inputs", [])):
    errors.append("no DS_PROMETHEUS input, so Grafana's import cannot ask for the data source")
ids = [p.get("id") for p in d["panels"]]
if len(ids) != len(set(ids)):
    errors.append(f"panel ids repeat: {ids}")
for p in d["panels"]:
    if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        errors.append(f"panel {p['title']!r} does not use ${{DS_PROMETHEUS}}")
    if not p.get("targets"):
        errors.append(f"panel {p['title']!r} has no query")
    for t in p.get("targets", []):
        if t["expr"].count("(") != t["expr"].count(")"):
            errors.append(f"unbalanced parentheses in {t['expr']}")
        for name in re.findall(r"\bhufu_[a-z_]+", t["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if base not in KNOWN:
                errors.append(f"panel {p['title']!r} names unknown metric {name}")
if errors:
    sys.exit(f"{path}:\n  " + "\n  ".join(errors))
print(f"ok {path}: {len(d['panels'])} panels, schemaVersion {d.get('schemaVersion')}")
EOF

if ! python3 -c 'import yaml' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check pyyaml >/dev/null 2>&1 || true
fi
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - deploy/docker-compose.yml deploy/prometheus.yml <<'EOF'
import re, sys, yaml
compose_path, prom_path = sys.argv[1:3]
def load(path):
    try:
        return yaml.safe_load(open(path))
    except yaml.YAMLError as e:
        sys.exit(f"{path}: not valid YAML: {e}")
c = load(compose_path)
errors = []
services = c.get("services", {})
hufu = {n: s for n, s in services.items() if n.startswith("hufu")}
if not hufu:
    errors.append("no hufu service")
node_ids = {}
for name, s in hufu.items():
    env = s.get("environment", {})
    for key in ("HUFU_DATABASE_URL", "HUFU_REDIS_URL", "HUFU_JWT_SECRET", "HUFU_ENCRYPTION_KEY"):
        if key not in env:
            errors.append(f"{name}: {key} not set")
    node_ids.setdefault(str(env.get("HUFU_NODE_ID")), []).append(name)
    for dep, cond in (s.get("depends_on") or {}).items():
        if cond.get("condition") != "service_healthy":
            errors.append(f"{name}: depends on {dep} without condition: service_healthy")
        elif "healthcheck" not in services.get(dep, {}):
            errors.append(f"{name}: depends on {dep}, which has no healthcheck")
if len(hufu) > 1:
    for node, names in node_ids.items():
        if node == "None" or len(names) > 1:
            errors.append(f"hufu nodes need their own HUFU_NODE_ID: {names} have {node}")
declared = set(c.get("volumes") or {})
for name, s in services.items():
    for v in s.get("volumes", []):
        source = v.split(":")[0] if isinstance(v, str) else v.get("source")
        if not source.startswith((".", "/")) and source not in declared:
            errors.append(f"{name}: volume {source} is not declared")
p = load(prom_path)
if not any(j.get("job_name") == "hufu" for j in p.get("scrape_configs", [])):
    errors.append(f"{prom_path}: no hufu scrape job")
if errors:
    sys.exit(f"{compose_path}:\n  " + "\n  ".join(errors))
print(f"ok {compose_path}: services {', '.join(services)}; ok {prom_path}")
EOF
else
  echo "PyYAML is not available (and pip could not install it); compose and Prometheus files not parsed"
fi

say "deployment files ok"
