-- Enable or disable a periodic job (an operator's choice, kept until its definition
-- changes).
-- ARGV: prefix, name, enabled ('1' or '0').
-- Returns 1, or 0 when there is no such periodic job.
local pkey = k_periodic(ARGV[2])
if redis.call('EXISTS', pkey) == 0 then
  return 0
end
redis.call('HSET', pkey, 'enabled', ARGV[3])
return 1
