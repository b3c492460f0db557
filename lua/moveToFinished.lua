-- moveToFinished: complete or finally fail an active job, then optionally
-- fetch the next one (PROTOCOL.md 4.1).
-- KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
--       7 delayed, 8 paused, 9 meta, 10 pc, 11 completed|failed, 12 job key,
--       13 metrics:completed|metrics:failed, 14 marker
-- ARGV: 1 jobId, 2 now (ms, becomes finishedOn), 3 "returnvalue"|"failedReason",
--       4 value, 5 "completed"|"failed", 6 fetchNext "1"|"0", 7 key prefix,
--       8 msgpack { token, name?, keepJobs = {count?, age?, limit?}, limiter?,
--         lockDuration, attempts, maxMetricsSize (number or ""), fpof.. (unused) },
--       9 msgpack flat [field, value, ...] to HMSET first, or ""
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
