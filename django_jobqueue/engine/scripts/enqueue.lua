-- Enqueue a batch of jobs onto one queue in one atomic step.
-- ARGV: prefix, queue, count, inline worker, inline lease, then per job:
--   id, at_front ('1' or ''), ttl, due ('' or epoch seconds), dependency ids (comma list),
--   number of hash fields n, then n field/value pairs.
-- An inline worker name (is_async=False queues) records each job as started by that caller,
-- which runs it at once.
-- Returns {now, outcome per job}: queued | started | scheduled | deferred | duplicate.
local queue, count = ARGV[2], tonumber(ARGV[3])
local inline, inline_lease = ARGV[4], tonumber(ARGV[5])
local now = server_time()
local out = {fmt(now)}
local i = 6
for j = 1, count do
  local id, at_front, ttl = ARGV[i], ARGV[i + 1] == '1', tonumber(ARGV[i + 2])
  local due, deps, nfields = ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5])
  local first = i + 6
  i = first + 2 * nfields
  local jkey = k_job(id)
  local old = redis.call('HMGET', jkey, 'status', 'origin')
  local status = old[1]
  if status == 'queued' or status == 'started' or status == 'scheduled' or status == 'deferred' then
    out[j + 1] = 'duplicate'
  else
    if status then
      -- a finished/failed/canceled job with the same id is replaced, never left in two places
      remove_everywhere(old[2], id)
      redis.call('DEL', jkey)
    end
    redis.call('HSET', jkey, 'origin', queue, 'created_at', fmt(now), unpack(ARGV, first, i - 1))
    local waiting = false
    for dep in string.gmatch(deps, '[^,]+') do
      local s = redis.call('HGET', k_job(dep), 'status')
      if s and s ~= 'finished' then
        waiting = true
        redis.call('SADD', k_dependents(dep), id)
      end
    end
    if waiting then
      redis.call('HSET', jkey, 'status', 'deferred')
      redis.call('ZADD', k_deferred(queue), now, id)
      redis.call('SADD', k_queues(), queue)
      out[j + 1] = 'deferred'
    elseif due ~= '' and tonumber(due) > now then
      redis.call('HSET', jkey, 'status', 'scheduled')
      redis.call('ZADD', k_scheduled(queue), due, id)
      redis.call('SADD', k_queues(), queue)
      out[j + 1] = 'scheduled'
    elseif inline ~= '' then
      redis.call('ZADD', k_started(queue), now + inline_lease, id)
      redis.call('HSET', jkey, 'status', 'started', 'enqueued_at', fmt(now), 'started_at', fmt(now),
        'worker_name', inline, 'attempts', 1)
      redis.call('SADD', k_queues(), queue)
      out[j + 1] = 'started'
    else
      push_to_queue(queue, id, jkey, at_front, now)
      out[j + 1] = 'queued'
    end
    if ttl > 0 and out[j + 1] ~= 'started' then
      redis.call('EXPIRE', jkey, ttl)
    end
  end
end
return out
