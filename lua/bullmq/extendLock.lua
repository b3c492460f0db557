-- extendLock: renew one job lock held by `token` (docs/bullmq.md §4.9).
-- @key lockKey          key     <jobKey>:lock
-- @key stalled          queue
-- @arg token            str
-- @arg duration         int     lock duration (ms)
-- @arg jobId            str
-- Reply: 1 renewed (job also removed from stalled), 0 not our lock / no lock.
local rcall = redis.call
if rcall("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if not rcall("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) then return 0 end
rcall("SREM", KEYS[2], ARGV[3])
return 1
