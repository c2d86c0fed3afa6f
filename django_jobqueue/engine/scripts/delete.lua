-- Delete jobs and every trace of them (queue, registries, results, dependents).
-- ARGV: prefix, ids....
-- Returns the number of jobs that existed.
local deleted = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local jkey = k_job(id)
  local origin = redis.call('HGET', jkey, 'origin')
  if origin then
    remove_everywhere(origin, id)
    deleted = deleted + 1
  end
  redis.call('DEL', jkey, k_results(id), k_dependents(id))
end
return deleted
