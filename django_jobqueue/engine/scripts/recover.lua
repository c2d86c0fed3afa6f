-- Take jobs back from workers that can no longer run them, in one step each.
-- ARGV: prefix, queue, mode, batch size, losses allowed, reason, workers....
--   mode 'expired':  jobs whose lease lapsed (their worker died); each goes back to the front
--                    of its queue, or to failed when the job says on_worker_lost = fail or
--                    when it has now lost that many workers (a job that kills its worker
--                    must not take down every worker, forever).
--   mode 'lost':     jobs started by one of `workers`, known dead (a pool's child that
--                    crashed): treated as 'expired' at once, without waiting for the lease.
--   mode 'returned': jobs started by one of `workers`, which give them back (a forced
--                    shutdown); they go back to the front of the queue and count no loss.
--   `reason` says how a lost worker was lost ('' = it stopped heartbeating).
-- A job that goes to failed releases or cancels its dependents (end_dependents) and counts
-- as ended in its group (group_move) and as failed in the queue's metrics; every job taken
-- back frees its concurrency slot.
-- Returns {requeued, failed, ids taken back...}.
local queue, mode, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local losses_allowed = tonumber(ARGV[5] or '0')
local reason = ARGV[6]
if reason == nil or reason == '' then
  reason = 'stopped heartbeating'
end
local named = {}
for i = 7, #ARGV do
  named[ARGV[i]] = true
end
local skey = k_started(queue)
local now = server_time()
local ids
if mode == 'expired' then
  ids = redis.call('ZRANGEBYSCORE', skey, '-inf', now, 'LIMIT', 0, limit)
else
  ids = redis.call('ZRANGE', skey, 0, -1)
end
local counts_loss = mode ~= 'returned'
local requeued, failed = 0, 0
local taken = {}
for _, id in ipairs(ids) do
  local jkey = k_job(id)
  local f = redis.call('HMGET', jkey, 'worker_name', 'on_worker_lost', 'failure_ttl', 'status',
    'lost_count', 'unique_key', 'has_dependents', 'group', 'limit_key', 'func_name')
  if mode == 'expired' or named[f[1]] then
    redis.call('ZREM', skey, id)
    limit_free(f[9], id, now)  -- its concurrency slot goes with its lease
    if f[4] then
      local lost = 0
      taken[#taken + 1] = id
      if counts_loss then
        lost = (tonumber(f[5]) or 0) + 1  -- a corrupt count starts again
        redis.call('HSET', jkey, 'lost_count', lost, 'last_lost_at', fmt(now),
          'last_lost_worker', f[1] or '')
      end
      if counts_loss and (f[2] == 'fail' or (losses_allowed > 0 and lost >= losses_allowed)) then
        local ttl = failure_ttl_of(f[3])
        redis.call('HSET', jkey, 'status', S_FAILED, 'ended_at', fmt(now), 'exc_info',
          'WorkerLost: worker ' .. (f[1] or '?') .. ' ' .. reason .. ' while running this '
          .. 'job (workers lost running it: ' .. lost .. ')')
        redis.call('ZADD', k_failed(queue), expiry_score(now, ttl), id)
        expire_job(id, ttl)
        release_unique(f[6], id, 0)  -- a unique job's key is free again
        if f[7] == '1' then
          end_dependents(id, 'failed for good', now)
        end
        group_move(f[8], S_STARTED, S_FAILED, now)
        count_outcome(queue, f[10], S_FAILED, nil, now)  -- run time unknown: no bucket
        failed = failed + 1
      else
        push_to_queue(queue, id, jkey, true, now)
        requeued = requeued + 1
      end
    end
  end
end
return {requeued, failed, unpack(taken)}
