-- Delete up to a batch of jobs from a queue or from one of its registries (and the
-- uniqueness keys that unique ones hold; one of a group that had not ended counts as
-- ended there: 'deleted').
-- ARGV: prefix, queue, batch size, [where: 'queue' (default) or a registry kind].
-- Returns how many ids left it (0 when it is empty).
local queue, where = ARGV[2], ARGV[4] or 'queue'
local key = tab_key(queue, where)
local ids = redis.call('ZRANGE', key, 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', key, id)
  local f = redis.pcall('HMGET', k_job(id), 'unique_key', 'status', 'group')
  if type(f) ~= 'table' or f.err then
    f = {}  -- a corrupt job still goes
  end
  release_unique(f[1] or false, id, 0)
  if f[3] and not GROUP_ENDED[f[2] or ''] then
    group_move(f[3], f[2], 'deleted', server_time())
  end
  redis.call('DEL', k_job(id), k_results(id), k_dependents(id))
end
return #ids
