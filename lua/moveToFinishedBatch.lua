-- moveToFinishedBatch: what moveToFinished does, for several jobs in one call
-- (handler threads that finished while the previous call was in flight). Each
-- job is finished, and its next job fetched, exactly as one moveToFinished call
-- would, in the order given; only the per-call costs (script start, meta read,
-- stream trim, delayed promotion for the same `now`) are paid once.
-- KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
--       7 delayed, 8 paused, 9 meta, 10 pc, 11 marker, then per job i (from 0):
--       12+3i completed|failed, 13+3i job key, 14+3i metrics key
-- ARGV: 1 key prefix, then per job i: 2+8i jobId, 3+8i now, 4+8i valueField,
--       5+8i value, 6+8i target, 7+8i fetchNext, 8+8i opts msgpack,
--       9+8i fields msgpack or ""
-- Reply: an array with each job's moveToFinished reply, in order. A job whose
-- finish raises (a corrupt parent field, a key of the wrong type) gets that
-- error as its element, and the jobs after it are still finished: what it
-- wrote before the error stays, as when moveToFinished raises for one job,
-- and the jobs before it were finished for good, so failing the whole call
-- would report them as not finished.
--@include finish

local q = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
  meta = KEYS[9], pc = KEYS[10], marker = KEYS[11],
}
local prefix = ARGV[1]
local replies = {}
local n = (#ARGV - 1) / 8
for i = 0, n - 1 do
  local a, k = 2 + 8 * i, 12 + 3 * i
  local ok, r = pcall(finishJob, q, prefix, {
    jobId = ARGV[a], now = ARGV[a + 1], valueField = ARGV[a + 2], value = ARGV[a + 3],
    target = ARGV[a + 4], fetchNext = ARGV[a + 5], opts = ARGV[a + 6], fields = ARGV[a + 7],
    setKey = KEYS[k], jobKey = KEYS[k + 1], metricsKey = KEYS[k + 2],
  })
  if not ok then
    -- redis.call raises a table {err = text}; other Lua errors are strings
    r = redis.error_reply(type(r) == "table" and tostring(r.err) or tostring(r))
  end
  replies[i + 1] = r
end
return replies
