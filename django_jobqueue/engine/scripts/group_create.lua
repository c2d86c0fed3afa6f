-- Store a new group (groups.py): its hash (created_at, ttl, counts at 0, and per callback the
-- id of its job and that job packed, written when the group completes: _groups.lua) and its
-- name in the index of groups.
-- ARGV: prefix, name, ttl, callbacks... (kind, job id, packed job: three per callback).
-- Returns 'ok', or 'exists' (a group has that name: nothing is changed).
local name, ttl = ARGV[2], ARGV[3]
local gkey = k_group(name)
if redis.call('EXISTS', gkey) == 1 then
  return 'exists'
end
local now = server_time()
local fields = {'created_at', fmt(now), 'ttl', ttl, 'total', 0, 'pending', 0}
for i = 4, #ARGV, 3 do
  local kind = ARGV[i]
  fields[#fields + 1], fields[#fields + 2] = 'job_' .. kind, ARGV[i + 1]
  fields[#fields + 1], fields[#fields + 2] = 'cb_' .. kind, ARGV[i + 2]
end
redis.call('HSET', gkey, unpack(fields))
redis.call('ZADD', k_groups(), now, name)
return 'ok'
