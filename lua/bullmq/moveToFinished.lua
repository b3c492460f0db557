-- moveToFinished: complete or finally fail an active job, then optionally
-- fetch the next one (docs/bullmq.md §4.5).
-- @key wait             queue
-- @key active           queue
-- @key prioritized      queue
-- @key events           queue
-- @key stalled          queue
-- @key limiter          queue
-- @key delayed          queue
-- @key paused           queue
-- @key meta             queue
-- @key pc               queue
-- @qkeys completed failed metrics:completed metrics:failed
-- @key setKey           key     the completed or failed set
-- @key jobKey           key     the job's hash
-- @key metricsKey       key     metrics:completed or metrics:failed
-- @key marker           queue
-- @arg jobId            str
-- @arg now              int     now (ms), becomes finishedOn
-- @arg valueField       str     "returnvalue" | "failedReason"
-- @arg value            str
-- @arg target           str     "completed" | "failed"
-- @arg fetchNext        str     "1" | "0"
-- @arg prefix           base
-- @arg opts             bin     msgpack { token, name?, keepJobs = {count?, age?, limit?}, limiter?, lockDuration, attempts, maxMetricsSize (number or "") }
-- @arg fields           bin     msgpack flat [field, value, ...] to write first, or ""
-- Reply: 0 | next-job reply (see moveToActive) when fetching |
--        -1 no job, -2 no lock, -3 not active, -4 pending children,
--        -6 lock mismatch, -9 failed children
--@include finish

local q = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
  meta = KEYS[9], pc = KEYS[10], marker = KEYS[14],
}
return finishJob(q, ARGV[7], {
  jobId = ARGV[1], now = ARGV[2], valueField = ARGV[3], value = ARGV[4], target = ARGV[5],
  fetchNext = ARGV[6], opts = ARGV[8], fields = ARGV[9],
  setKey = KEYS[11], jobKey = KEYS[12], metricsKey = KEYS[13],
})
