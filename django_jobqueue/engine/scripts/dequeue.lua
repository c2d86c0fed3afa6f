-- Take the next job for a worker and record it as started by that worker, in one step.
-- ARGV: prefix, worker name, lease seconds, queue names in priority order.
-- Returns false, or {queue, job id, packed job hash}.
return take_next(ARGV[2], tonumber(ARGV[3]), 4, server_time())
