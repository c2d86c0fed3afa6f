-- Enqueue a batch of jobs onto one queue in one atomic step.
-- ARGV: prefix, queue, count, inline worker, inline lease, jobs... (one packed argument per
--       job: id, flags ('f': at front, 'n': an id just made up, so no duplicate check, 'u':
--       unique, 'a': its dependencies may fail, 'g': it joins its `group`, 'l': it has a
--       limit), ttl, due ('' or epoch seconds), dependency
--       ids (comma list), priority, then field/value pairs of the job's hash, a unique
--       job's starting 'unique_key', token, 'unique_for', seconds).
-- An inline worker name (is_async=False queues) records each job as started by that caller,
-- which runs it at once.
-- A dependency must exist (saved or enqueued, in Redis or in this batch): when one
-- does not, nothing of the batch is written.
-- A job whose dependency already ended without finishing (and that does not allow
-- failures) is canceled at once, with the reason (see end_dependents); requeueing that
-- dependency restores it.
-- A unique job whose token a job holds (see unique_holder; an earlier job of the same batch
-- too) is not written: its outcome names that job. Otherwise the job takes the token's key.
-- A job of a group joins it (groups.py: counted, listed): the group must exist and not have
-- completed, or nothing of the batch is written. A job with a limit records its limit's
-- definition in the `limits` hash (limits.py; the admin lists them).
-- Returns {now, outcome per job: queued | started | scheduled | deferred | canceled |
-- duplicate (of the job with its id) | duplicate:<id> (of the job holding its token)}, or
-- {'missing-dependency', job id, dependency id}, or {'missing-group' | 'group-completed',
-- job id, group}.
local queue, count = ARGV[2], tonumber(ARGV[3])
local inline, inline_lease = ARGV[4], tonumber(ARGV[5])

-- The value of field `name` among a packed job's field/value pairs (from its 7th entry).
local function item_field(item, name)
  for k = 7, #item - 1, 2 do
    if item[k] == name then
      return item[k + 1]
    end
  end
  return nil
end

local items, batch_ids, groups = {}, {}, {}
for j = 1, count do
  items[j] = unpack_fields(ARGV[5 + j])
  batch_ids[items[j][1]] = true
  if string.find(items[j][2], 'g', 1, true) then
    local group = item_field(items[j], 'group')
    local refused = group and group_refuses(group)
    if refused then
      return {refused, items[j][1], group}
    end
    groups[j] = group
  end
end
for j = 1, count do
  for dep in string.gmatch(items[j][5], '[^,]+') do
    if not batch_ids[dep] and redis.call('EXISTS', k_job(dep)) == 0 then
      return {'missing-dependency', items[j][1], dep}
    end
  end
end

local now = server_time()
local nowf = fmt(now)
local seq = redis.call('INCRBY', k_seq(), count) - count
local out = {nowf}
local scores = {}
for j = 1, count do
  local item = items[j]
  local id, flags, ttl, due, deps = item[1], item[2], tonumber(item[3]), item[4], item[5]
  local at_front = string.find(flags, 'f', 1, true) ~= nil
  local token = string.find(flags, 'u', 1, true) and item[8]
  local jkey = k_job(id)
  local old = {false, false}
  if not string.find(flags, 'n', 1, true) then
    old = redis.call('HMGET', jkey, 'status', 'origin')
  end
  local status = old[1]
  local holder = false
  if token and not ACTIVE[status] then
    holder = unique_holder(token, now)
  end
  if ACTIVE[status] then
    out[j + 1] = 'duplicate'
  elseif holder then
    out[j + 1] = 'duplicate:' .. holder
  else
    local fields = {'origin', queue, 'created_at', nowf}
    if status then
      -- a finished/failed/canceled job with the same id is replaced, never left in two places
      remove_everywhere(old[2], id)
      redis.call('DEL', jkey, k_results(id))
      if redis.call('EXISTS', k_dependents(id)) == 1 then
        fields[#fields + 1], fields[#fields + 2] = 'has_dependents', '1'  -- still awaited
      end
    end
    local pending, blocker = '', false
    if deps ~= '' then
      pending, blocker = wait_for(id, deps, string.find(flags, 'a', 1, true) ~= nil)
    end
    if status and not blocker and redis.call('EXISTS', k_dependents(id)) == 1 then
      restore_dependents(id, now)  -- as a requeue does: those its end canceled wait again
    end
    if blocker then
      status = S_CANCELED
      token = false  -- it holds no uniqueness key
      local reason = 'dependency ' .. blocker .. ' '
        .. ENDED_BADLY[redis.call('HGET', k_job(blocker), 'status')]
      for _, v in ipairs({'dependencies_pending', pending, 'ended_at', nowf,
                          'canceled_reason', reason, 'canceled_by', blocker}) do
        fields[#fields + 1] = v
      end
    elseif pending ~= '' then
      status = S_DEFERRED
      fields[#fields + 1], fields[#fields + 2] = 'dependencies_pending', pending
      if due ~= '' and tonumber(due) > now then  -- released to scheduled, not to the queue
        fields[#fields + 1], fields[#fields + 2] = 'due_at', due
      end
      redis.call('ZADD', k_deferred(queue), now, id)
    elseif due ~= '' and tonumber(due) > now then
      status = S_SCHEDULED
      redis.call('ZADD', k_scheduled(queue), due, id)
    elseif inline ~= '' then
      status = S_STARTED
      redis.call('ZADD', k_started(queue), now + inline_lease, id)
      for _, v in ipairs({'enqueued_at', nowf, 'started_at', nowf, 'worker_name', inline,
                          'attempts', '1'}) do
        fields[#fields + 1] = v
      end
    else
      status = S_QUEUED
      seq = seq + 1
      scores[#scores + 1] = score_for(tonumber(item[6]), at_front, seq)
      scores[#scores + 1] = id
      fields[#fields + 1], fields[#fields + 2] = 'enqueued_at', nowf
    end
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = status
    for k = 7, #item do
      fields[#fields + 1] = item[k]
    end
    redis.call('HSET', jkey, unpack(fields))
    if status == S_CANCELED then
      local canceled_ttl = failure_ttl_of(redis.call('HGET', jkey, 'failure_ttl'))
      redis.call('ZADD', k_canceled(queue), expiry_score(now, canceled_ttl), id)
      expire_job(id, canceled_ttl)
    elseif ttl > 0 and status ~= S_STARTED then
      redis.call('EXPIRE', jkey, ttl)
      if token then  -- expires with the job it names if no worker takes it (take_next)
        redis.call('SET', k_unique(token), id, 'EX', ttl)
      end
    elseif token then
      redis.call('SET', k_unique(token), id)
    end
    if groups[j] then
      group_join(groups[j], id, queue, status, now)
    end
    if string.find(flags, 'l', 1, true) then
      local key = item_field(item, 'limit_key')
      redis.call('HSET', k_limits(), key, (item_field(item, 'limit_rate') or '') .. ';'
        .. (item_field(item, 'limit_concurrency') or ''))
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
