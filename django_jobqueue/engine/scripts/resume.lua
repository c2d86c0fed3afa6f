-- Resume a paused queue (pausing.py): take it out of the paused set and, when jobs wait in
-- it, leave a wake-up token so that a worker blocked on it takes one at once (that take
-- wakes the next worker while more wait).
-- ARGV: prefix, queue.
-- Returns 1 when the queue was paused, else 0.
local queue = ARGV[2]
local resumed = redis.call('SREM', k_paused(), queue)
if resumed == 1 and redis.call('ZCARD', k_queue(queue)) > 0 then
  notify(queue)
end
return resumed
