-- moveToActive: hand the next job of a queue to a worker (docs/bullmq.md §4.4).
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
-- @key marker           queue
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg opts             bin     msgpack { token, lockDuration, limiter = {max, duration}?, name? }
-- Reply: [jobHashFlat, jobId, 0, 0] | [0, 0, rateLimitTtl, 0] |
--        [0, 0, 0, nextDelayedDueMs] | [0, 0, 0, 0]
--@include core
--@include fetch

local q = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8], meta = KEYS[9],
  pc = KEYS[10], marker = KEYS[11],
}
local reply = takeNextJob(q, ARGV[1], ARGV[2], cmsgpack.unpack(ARGV[3]), false)
return reply or { 0, 0, 0, 0 }
