-- moveToDelayed: record a failed attempt and park the job until its backoff ends
-- (docs/bull.md §4.4); the delayed channel hears the due time.
-- @key active           queue
-- @key delayed          queue
-- @key jobKey           key     the job's hash
-- @key stalled          queue
-- @arg score            str     due * 4096 + (numeric id & 4095), decimal
-- @arg jobId            str
-- @arg token            str     the worker's lock token
-- @arg fields           bin     msgpack flat [field, value, ...] to record first
-- Reply: 0 | -1 no job, -2 no lock, -3 not active, -6 another worker's lock
--@include lock

local jobId, jobKey = ARGV[2], KEYS[3]
local rc = leaveActive(jobKey, KEYS[1], KEYS[4], ARGV[3], jobId, ARGV[4])
if rc ~= 0 then
  return rc
end
local score = tonumber(ARGV[1])
redis.call("ZADD", KEYS[2], score, jobId)
redis.call("PUBLISH", KEYS[2], score / 0x1000)
return 0
