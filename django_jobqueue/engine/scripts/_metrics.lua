-- Cumulative metrics (metrics.py), written by the step that records an execution's outcome
-- (finish.lua, fail.lua): no extra round trip. Per queue, one hash `metrics:<queue>` with,
-- per function, `<func>|<outcome>` counts (finished, retried, failed, stopped) and a
-- histogram of run times: `<func>|b<n>` counts the runs of at most METRIC_BUCKETS[n]
-- seconds (n = #METRIC_BUCKETS + 1: longer), `<func>|us` their total in microseconds.
-- Throughput per minute: one hash per queue and hour, `history:<queue>:<hour>` with
-- `<minute>|<outcome>` counts, expiring HISTORY_TTL after its first write.

-- An execution of `func` on `queue` ended as `outcome`, after `duration` seconds (nil:
-- unknown, counted but not in the histogram). A metrics key of the wrong type (corrupt)
-- makes its writes fail alone (pcall): the job's own step never does.
local function count_outcome(queue, func, outcome, duration, now)
  local mkey = k_metrics(queue)
  local name = (func or '?') .. '|'
  redis.pcall('HINCRBY', mkey, name .. outcome, 1)
  if duration and duration == duration and duration >= 0 and duration < math.huge then
    local n = #METRIC_BUCKETS + 1
    for i = 1, #METRIC_BUCKETS do
      if duration <= METRIC_BUCKETS[i] then
        n = i
        break
      end
    end
    redis.pcall('HINCRBY', mkey, name .. 'b' .. n, 1)
    redis.pcall('HINCRBY', mkey, name .. 'us', math.floor(duration * 1000000 + 0.5))
  end
  local minute = math.floor(now / 60)
  local hkey = k_history(queue .. ':' .. math.floor(minute / 60))
  if redis.pcall('HINCRBY', hkey, minute .. '|' .. outcome, 1) == 1 then
    redis.pcall('EXPIRE', hkey, HISTORY_TTL)  -- once per minute and outcome: cheap
  end
end
