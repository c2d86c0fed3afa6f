-- Take the next job for a worker and record it as started by that worker, in one step
-- (take_next, in _take.lua; finish.lua and fail.lua end with the same step).
-- ARGV: prefix, worker, lease, queues....
-- Returns false, or {queue, job id, packed job hash, more waiting (1 | 0)} (see take_next).
return take_next(ARGV[2], tonumber(ARGV[3]), 4, server_time(), '')
