-- Delete up to a batch of queued jobs from a queue. ARGV: prefix, queue, batch size.
-- Returns how many ids left the queue (0 when it is empty).
local qkey = k_queue(ARGV[2])
local ids = redis.call('ZRANGE', qkey, 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', qkey, id)
  redis.call('DEL', k_job(id), k_results(id), k_dependents(id))
end
return #ids
