-- moveToFinished: complete a job, or fail it for good, and optionally take the next waiting
-- job in the same call (docs/bull.md §4.3).
-- @key active           queue
-- @qkeys completed failed metrics:completed metrics:failed
-- @key target           key     the completed or failed set (also the event channel)
-- @key jobKey           key     the job's hash
-- @key wait             queue
-- @key priority         queue
-- @key stalled          queue
-- @key metricsKey       key     metrics:completed or metrics:failed
-- @arg jobId            str
-- @arg now              int     now (ms), becomes finishedOn
-- @arg valueField       str     "returnvalue" | "failedReason"
-- @arg value            str
-- @arg token            str     the worker's lock token
-- @arg keep             bin     msgpack {count?, age?}: count 0 removes the job at once
-- @arg event            str     the JSON published on the target channel
-- @arg fetchNext        str     "1" | "0"
-- @arg prefix           base
-- @arg lockMs           int     lock duration for the next job (ms)
-- @arg fields           bin     msgpack flat [field, value, ...] a failure records first, or ""
-- @arg maxMetrics       str     data points kept by the metrics, "" for no metrics
-- Reply: 0 | [jobHashFlat, jobId] of the next job | -1 no job, -2 no lock, -3 not active,
--        -6 another worker's lock
--@include lock
--@include keep
--@include activate
--@include metrics

local jobId, now, base = ARGV[1], ARGV[2], ARGV[9]
local target, jobKey = KEYS[2], KEYS[3]
local rc = leaveActive(jobKey, KEYS[1], KEYS[6], ARGV[5], jobId, ARGV[11])
if rc ~= 0 then
  return rc
end
freeDebounce(base, redis.call("HGET", jobKey, "deid"))

local keep = cmsgpack.unpack(ARGV[6])
if keep.count ~= 0 then
  redis.call("ZADD", target, now, jobId)
  redis.call("HMSET", jobKey, ARGV[3], ARGV[4], "finishedOn", now)
  if keep.age then
    keepYounger(base, target, now, keep.age)
  end
  if keep.count and keep.count > 0 then
    keepNewest(base, target, keep.count)
  end
else
  redis.call("DEL", jobKey, jobKey .. ":logs")
end
if ARGV[12] ~= "" then
  recordMetric(KEYS[7], ARGV[12], now)
end
redis.call("PUBLISH", target, ARGV[7])

if ARGV[8] == "1" then
  local nextId = redis.call("RPOPLPUSH", KEYS[4], KEYS[1])
  if nextId then
    return activate(base, nextId, ARGV[5], ARGV[10], now, KEYS[5])
  end
end
return 0
