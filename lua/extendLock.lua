-- extendLock: renew one job lock held by `token` (PROTOCOL.md 4.1).
-- KEYS: <jobKey>:lock, stalled
-- ARGV: 1 token, 2 lock duration (ms), 3 jobId
-- Reply: 1 renewed (job also removed from stalled), 0 not our lock / no lock.
local rcall = redis.call
if rcall("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if not rcall("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) then return 0 end
rcall("SREM", KEYS[2], ARGV[3])
return 1
