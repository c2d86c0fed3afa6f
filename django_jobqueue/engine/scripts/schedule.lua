-- Move scheduled jobs that are due onto their queues.
-- ARGV: prefix, batch size, queues....
-- Returns how many moved.
local limit = tonumber(ARGV[2])
local now = server_time()
local moved = 0
for qi = 3, #ARGV do
  local queue = ARGV[qi]
  local skey = k_scheduled(queue)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', skey, '-inf', now, 'LIMIT', 0, limit)) do
    redis.call('ZREM', skey, id)
    local jkey = k_job(id)
    if redis.call('EXISTS', jkey) == 1 then  -- a job whose ttl ran out is dropped
      push_to_queue(queue, id, jkey, false, now)
      moved = moved + 1
    end
  end
end
return moved
