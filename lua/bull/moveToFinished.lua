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
--@include finish

return finishJob(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[9], ARGV[5], ARGV[10],
  KEYS[2], KEYS[3], KEYS[7], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6], ARGV[7], ARGV[8],
  ARGV[11], ARGV[12])
