-- Cancel a job that has not started: queue/scheduled/deferred -> canceled registry (a unique
-- job's uniqueness key is free again; its dependents are released or canceled, in this
-- step: end_dependents; it counts as ended in its group: group_move).
-- ARGV: prefix, id. Returns 'ok', 'missing' or 'status:<status>'.
local id = ARGV[2]
local jkey = k_job(id)
local f = redis.call('HMGET', jkey, 'status', 'origin', 'failure_ttl', 'unique_key',
  'has_dependents', 'group')
if not f[1] then
  return 'missing'
end
if not CANCELABLE[f[1]] then
  return 'status:' .. f[1]
end
local now = server_time()
local ttl = failure_ttl_of(f[3])
remove_everywhere(f[2], id)
release_unique(f[4], id, 0)
redis.call('HSET', jkey, 'status', S_CANCELED, 'ended_at', fmt(now))
redis.call('ZADD', k_canceled(f[2]), expiry_score(now, ttl), id)
expire_job(id, ttl)
if f[5] == '1' then
  end_dependents(id, 'was canceled', now)
end
group_move(f[6], f[1], S_CANCELED, now)
return 'ok'
