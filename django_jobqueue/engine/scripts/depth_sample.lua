-- Record each queue's depth (queued jobs) for the current minute (metrics.py), once a
-- minute: the first worker whose maintenance asks in that minute writes it, the others
-- find it there (so the traffic does not grow with the workers: one cheap call each).
-- ARGV: prefix, queues....
-- Returns how many queues it recorded.
local now = server_time()
local minute = math.floor(now / 60)
local hour = math.floor(minute / 60)
local recorded = 0
for i = 2, #ARGV do
  local key = k_depth(ARGV[i] .. ':' .. hour)
  local depth = redis.call('ZCARD', k_queue(ARGV[i]))
  if redis.pcall('HSETNX', key, minute, depth) == 1 then  -- a corrupt key: skipped
    redis.pcall('EXPIRE', key, HISTORY_TTL)
    recorded = recorded + 1
  end
end
return recorded
