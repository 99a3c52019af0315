// admin.js — the administrators' screens (users, audit log). Filled in next.

export const routes = [];
