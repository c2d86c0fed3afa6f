-- Write a job's meta alone, and only while the job exists (never resurrect a deleted job).
-- ARGV: prefix, id, meta payload. Returns 1, or 0 when the job is gone.
local jkey = k_job(ARGV[2])
if redis.call('EXISTS', jkey) == 0 then
  return 0
end
redis.call('HSET', jkey, 'meta', ARGV[3])
return 1
