-- Put jobs back on their origin queue, in one step each: by id, or a batch from a failed registry.
-- A unique job takes its uniqueness key again, unless another job holds it now. The
-- dependents its end canceled go back to deferred (restore_dependents).
-- ARGV: prefix, allowed statuses (comma list), at_front ('1' or ''), mode ('ids' | 'registry'),
--       targets... (the ids in mode 'ids'; in mode 'registry' the queue name, batch size and
--       offset: the caller skips the entries a previous batch refused).
-- Returns {requeued count, then per id 'ok' | 'missing' | 'status:<status>'} in mode 'ids',
-- {requeued count, expired ids dropped, entries refused (left in place)} in mode 'registry'
-- (a batch of a queue's failed registry).
local allowed = {}
for s in string.gmatch(ARGV[2], '[^,]+') do
  allowed[s] = true
end
local at_front, mode = ARGV[3] == '1', ARGV[4]
local now = server_time()
local ids
if mode == 'registry' then
  local skip = tonumber(ARGV[7] or '0')
  ids = redis.call('ZRANGE', k_failed(ARGV[5]), skip, skip + tonumber(ARGV[6]) - 1)
else
  ids = {unpack(ARGV, 5)}
end
local out = {0}
local dropped, refused = 0, 0
for n, id in ipairs(ids) do
  local jkey = k_job(id)
  local f = redis.call('HMGET', jkey, 'status', 'origin', 'unique_key', 'has_dependents',
    'group')
  local result
  if not f[1] then
    result = 'missing'
    if mode == 'registry' then
      redis.call('ZREM', k_failed(ARGV[5]), id)  -- its failure_ttl ran out
      dropped = dropped + 1
    end
  elseif not allowed[f[1]] then
    result = 'status:' .. f[1]
    refused = refused + 1
  else
    remove_everywhere(f[2], id)
    redis.call('HDEL', jkey, 'exc_info', 'ended_at', 'canceled_reason', 'canceled_by')
    redis.call('PERSIST', jkey)
    redis.call('PERSIST', k_results(id))
    push_to_queue(f[2], id, jkey, at_front, now)
    if f[3] then
      local holder = unique_holder(f[3], now)
      if not holder or holder == id then
        redis.call('SET', k_unique(f[3]), id)  -- (no expiry: it is released when it ends)
      end
    end
    if f[4] == '1' then
      restore_dependents(id, now)
    end
    group_move(f[5], f[1], S_QUEUED, now)  -- pending again in its group
    out[1] = out[1] + 1
    result = 'ok'
  end
  if mode == 'ids' then
    out[n + 1] = result
  end
end
if mode == 'registry' then
  out[2] = dropped
  out[3] = refused
end
return out
