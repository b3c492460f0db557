-- moveToFinishedBatch: what moveToFinished does, for several jobs, then what moveToActive does
-- without a rate limit, for idle threads, in one call (docs/bull.md §4.3). Each job is
-- finished (and its next job fetched, with fetchNext) exactly as one moveToFinished call would,
-- in the order given; then one job is taken per entry of `fetch`, as that many moveToActive
-- calls would. Only the per-call costs (the call itself, its KEYS and ARGV) are paid once, and
-- the removals from `stalled` and `priority` are skipped when that key is empty (nothing in
-- the call adds to either, so each of them would have removed nothing).
-- @key active           queue
-- @key wait             queue
-- @key priority         queue
-- @key stalled          queue
-- @arg prefix           base
-- @arg token            str     the worker's lock token
-- @arg lockMs           int     lock duration (ms)
-- @arg now              int     now (ms), the extra jobs' processedOn
-- @arg fetch            bin     msgpack [jobId, ...]: one extra job per entry, as moveToActive's jobId ("" takes the next waiting one); "" for none
-- @each job
-- @qkeys completed failed metrics:completed metrics:failed
-- @key target           key     as moveToFinished's
-- @key jobKey           key
-- @key metricsKey       key
-- @arg jobId            str
-- @arg now              int
-- @arg valueField       str
-- @arg value            str
-- @arg keep             bin
-- @arg event            str
-- @arg fetchNext        str
-- @arg fields           bin
-- @arg maxMetrics       str
-- Reply: an array with each job's moveToFinished reply, in order, then each extra job's
-- moveToActive reply ([jobHashFlat, jobId] or 0). A job whose finish raises (a key of the wrong
-- type) gets the error as its element and the jobs after it are still finished, as separate
-- calls would leave them: what it wrote before the error stays, as with moveToFinished.
--@include finish
--@include claim

local active, wait, priority, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local base, token, lockMs = ARGV[1], ARGV[2], ARGV[3]
if redis.call("SCARD", stalled) == 0 then
  stalled = false
end
if redis.call("ZCARD", priority) == 0 then
  priority = false
end
local replies = {}

-- Taking a job as moveToActive does without a rate limit (docs/bull.md §4.2). Returns
-- [hash, id], or 0 when nothing was waiting.
local function takeJob(jobId, now)
  jobId = claimJob(wait, active, stalled, base, jobId)
  if not jobId then
    return 0
  end
  return activate(base, jobId, token, lockMs, now, priority)
end

-- A raised error as an element of the reply.
local function element(ok, r)
  if ok then
    return r
  end
  if type(r) == "table" and r.err then
    return r
  end
  return { err = tostring(r) }
end

local n = (#KEYS - 4) / 3
for i = 1, n do
  local k, a = 4 + (i - 1) * 3, 5 + (i - 1) * 9
  replies[i] = element(pcall(finishJob, active, wait, priority, stalled, base, token, lockMs,
    KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
    ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]))
end
if ARGV[5] ~= "" then
  local now = ARGV[4]
  for _, jobId in ipairs(cmsgpack.unpack(ARGV[5])) do
    replies[#replies + 1] = element(pcall(takeJob, jobId, now))
  end
end
return replies
