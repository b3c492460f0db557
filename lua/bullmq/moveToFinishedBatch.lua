-- moveToFinishedBatch: what moveToFinished does, for several jobs, then what
-- moveToActive does, for idle workers, in one call (docs/bullmq.md §4.6). Each
-- job is finished, and its next job fetched, exactly as one moveToFinished call
-- would, in the order given; then up to #tokens more jobs are taken as that many
-- moveToActive calls would take them. Only the per-call costs (script start, meta
-- read, stream trim, delayed promotion for the same `now`) are paid once.
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
-- @arg now              int     now (ms) for the extra fetches
-- @arg fetch            bin     msgpack { tokens = [token, ...], lockDuration, limiter?, name? }: take up to #tokens more jobs, one per token; "" for none
-- @each job
-- @qkeys completed failed metrics:completed metrics:failed
-- @key setKey           key     the completed or failed set
-- @key jobKey           key     the job's hash
-- @key metricsKey       key     metrics:completed or metrics:failed
-- @arg jobId            str
-- @arg now              int     now (ms), becomes finishedOn
-- @arg valueField       str
-- @arg value            str
-- @arg target           str
-- @arg fetchNext        str
-- @arg opts             bin     as moveToFinished's
-- @arg fields           bin     as moveToFinished's
-- Reply: an array with each job's moveToFinished reply, in order, then one
-- moveToActive reply per extra job taken, ending with the first one that took
-- none (if any). A job whose finish raises (a corrupt parent field, a key of the
-- wrong type) gets that error as its element, and the jobs after it are still
-- finished: what it wrote before the error stays, as when moveToFinished raises
-- for one job, and the jobs before it were finished for good, so failing the
-- whole call would report them as not finished.
--@include finish

local q = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
  meta = KEYS[9], pc = KEYS[10], marker = KEYS[11],
}
local prefix = ARGV[1]
local replies = {}
local n = (#ARGV - 3) / 8
for i = 0, n - 1 do
  local a, k = 4 + 8 * i, 12 + 3 * i
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

-- Idle workers: one moveToActive per token, until one finds no job.
if ARGV[3] ~= "" then
  local wopts = cmsgpack.unpack(ARGV[3])
  local tokens = wopts["tokens"]
  for i = 1, #tokens do
    wopts["token"] = tokens[i]
    local r = takeNextJob(q, prefix, ARGV[2], wopts, false) or { 0, 0, 0, 0 }
    replies[#replies + 1] = r
    if type(r[1]) ~= "table" then break end
  end
end
return replies
