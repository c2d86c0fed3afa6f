-- The periodic jobs whose next tick has come, by the server's clock.
-- ARGV: prefix, most.
-- Returns {server time, name, tick, name, tick, ...} (ticks as stored, earliest first).
local now = server_time()
local due = redis.call('ZRANGEBYSCORE', k_periodics(), '-inf', now, 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[2]))
table.insert(due, 1, fmt(now))
return due
