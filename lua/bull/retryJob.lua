-- retryJob: record a failed attempt and make the job ready again at once (docs/bull.md §4.4).
-- Nothing is published.
-- @key active           queue
-- @key wait             queue
-- @key jobKey           key     the job's hash
-- @key metaPaused       queue:meta-paused
-- @key paused           queue
-- @key stalled          queue
-- @key priority         queue
-- @arg pushCmd          str     "LPUSH" (runs after the others) | "RPUSH" (lifo: runs next)
-- @arg jobId            str
-- @arg token            str     the worker's lock token
-- @arg fields           bin     msgpack flat [field, value, ...] to record first
-- Reply: 0 | -1 no job, -2 no lock, -3 not active, -6 another worker's lock
--@include lock
--@include push

local jobId, jobKey = ARGV[2], KEYS[3]
local rc = leaveActive(jobKey, KEYS[1], KEYS[6], ARGV[3], jobId, ARGV[4])
if rc ~= 0 then
  return rc
end
local list = readyList(KEYS[4], KEYS[2], KEYS[5])
pushReady(jobKey, KEYS[7], list, ARGV[1], jobId)
return 0
