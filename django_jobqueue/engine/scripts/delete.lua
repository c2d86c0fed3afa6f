-- Delete jobs and every trace of them (queue, registries, results, dependents, the
-- uniqueness key a unique job holds); a job of a group that had not ended counts as ended
-- ('deleted').
-- ARGV: prefix, ids....
-- Returns the number of jobs that existed.
local deleted = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local jkey = k_job(id)
  local f = redis.call('HMGET', jkey, 'origin', 'unique_key', 'status', 'group')
  if f[1] then
    remove_everywhere(f[1], id)
    release_unique(f[2], id, 0)
    deleted = deleted + 1
  end
  if f[4] and not GROUP_ENDED[f[3] or ''] then
    group_move(f[4], f[3], 'deleted', server_time())  -- it will never end: counted as ended
  end
  redis.call('DEL', jkey, k_results(id), k_dependents(id))
end
return deleted
