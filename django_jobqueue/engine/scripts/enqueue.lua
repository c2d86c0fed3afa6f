-- Enqueue a batch of jobs onto one queue in one atomic step.
-- ARGV: prefix, queue, count, inline worker, inline lease, then one packed argument per job
--   (netstrings): id, flags ('f': at front, 'n': an id just made up, so no duplicate check), ttl, due ('' or epoch seconds), dependency ids
--   (comma list), priority, then field/value pairs of the job's hash.
-- An inline worker name (is_async=False queues) records each job as started by that caller,
-- which runs it at once.
-- Returns {now, outcome per job}: queued | started | scheduled | deferred | duplicate.
local queue, count = ARGV[2], tonumber(ARGV[3])
local inline, inline_lease = ARGV[4], tonumber(ARGV[5])
local now = server_time()
local nowf = fmt(now)
local seq = redis.call('INCRBY', k_seq(), count) - count
local out = {nowf}
local scores = {}
for j = 1, count do
  local item = unpack_fields(ARGV[5 + j])
  local id, flags, ttl, due, deps = item[1], item[2], tonumber(item[3]), item[4], item[5]
  local at_front = string.find(flags, 'f', 1, true) ~= nil
  local jkey = k_job(id)
  local old = {false, false}
  if not string.find(flags, 'n', 1, true) then
    old = redis.call('HMGET', jkey, 'status', 'origin')
  end
  local status = old[1]
  if status == 'queued' or status == 'started' or status == 'scheduled' or status == 'deferred' then
    out[j + 1] = 'duplicate'
  else
    if status then
      -- a finished/failed/canceled job with the same id is replaced, never left in two places
      remove_everywhere(old[2], id)
      redis.call('DEL', jkey, k_results(id))
    end
    local waiting = false
    for dep in string.gmatch(deps, '[^,]+') do
      local djkey = k_job(dep)
      local s = redis.call('HGET', djkey, 'status')
      if s and s ~= 'finished' then
        waiting = true
        redis.call('SADD', k_dependents(dep), id)
        redis.call('HSET', djkey, 'has_dependents', '1')
      end
    end
    local fields = {'origin', queue, 'created_at', nowf}
    if waiting then
      status = 'deferred'
      redis.call('ZADD', k_deferred(queue), now, id)
    elseif due ~= '' and tonumber(due) > now then
      status = 'scheduled'
      redis.call('ZADD', k_scheduled(queue), due, id)
    elseif inline ~= '' then
      status = 'started'
      redis.call('ZADD', k_started(queue), now + inline_lease, id)
      fields[5], fields[6], fields[7], fields[8] = 'enqueued_at', nowf, 'started_at', nowf
      fields[9], fields[10], fields[11], fields[12] = 'worker_name', inline, 'attempts', '1'
    else
      status = 'queued'
      seq = seq + 1
      scores[#scores + 1] = score_for(tonumber(item[6]), at_front, seq)
      scores[#scores + 1] = id
      fields[5], fields[6] = 'enqueued_at', nowf
    end
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = status
    for k = 7, #item do
      fields[#fields + 1] = item[k]
    end
    redis.call('HSET', jkey, unpack(fields))
    if ttl > 0 and status ~= 'started' then
      redis.call('EXPIRE', jkey, ttl)
    end
    out[j + 1] = status
  end
end
if #scores > 0 then
  redis.call('ZADD', k_queue(queue), unpack(scores))
  notify(queue)
end
redis.call('SADD', k_queues(), queue)
return out
