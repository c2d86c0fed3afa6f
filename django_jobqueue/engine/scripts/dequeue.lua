-- Take the next job for a worker and record it as started by that worker, in one step.
-- ARGV: prefix, worker name, lease seconds, queue names in priority order.
-- Returns false, or {queue, job id, job hash as a flat list}.
local worker, lease = ARGV[2], tonumber(ARGV[3])
local now = server_time()
for qi = 4, #ARGV do
  local queue = ARGV[qi]
  local qkey = k_queue(queue)
  while true do
    local popped = redis.call('ZPOPMIN', qkey)
    if #popped == 0 then
      break
    end
    local id = popped[1]
    local jkey = k_job(id)
    -- a job whose ttl ran out while queued has no hash any more: it is dropped, never run
    if redis.call('EXISTS', jkey) == 1 then
      redis.call('ZADD', k_started(queue), now + lease, id)
      redis.call('HSET', jkey, 'status', 'started', 'started_at', fmt(now), 'worker_name', worker)
      redis.call('HINCRBY', jkey, 'attempts', 1)
      redis.call('PERSIST', jkey)
      local wkey = k_worker(worker)
      if redis.call('EXISTS', wkey) == 1 then
        redis.call('HSET', wkey, 'state', 'busy', 'current_job', id)
      end
      if redis.call('ZCARD', qkey) > 0 then
        notify(queue)  -- wake the next idle worker: more work is waiting
      end
      return {queue, id, redis.call('HGETALL', jkey)}
    end
  end
end
return false
