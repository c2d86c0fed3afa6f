-- Delete up to a batch of jobs from a queue or from one of its registries (and the
-- uniqueness keys that unique ones hold).
-- ARGV: prefix, queue, batch size, [where: 'queue' (default) or a registry kind].
-- Returns how many ids left it (0 when it is empty).
local queue, where = ARGV[2], ARGV[4] or 'queue'
local key = tab_key(queue, where)
local ids = redis.call('ZRANGE', key, 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', key, id)
  local token = redis.pcall('HGET', k_job(id), 'unique_key')  -- a corrupt job still goes
  release_unique(type(token) == 'string' and token or false, id, 0)
  redis.call('DEL', k_job(id), k_results(id), k_dependents(id))
end
return #ids
