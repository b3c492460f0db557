-- updateProgress: store a job's progress and announce it (docs/bullmq.md §4.13).
-- @key jobKey           key     the job's hash
-- @key events           queue
-- @key meta             queue
-- @arg jobId            str
-- @arg progress         str     JSON text
-- Reply: 0 | -1 no such job
--@include core
--@include events

if rcall("EXISTS", KEYS[1]) == 0 then return -1 end
local cap = eventsCap(KEYS[3])
rcall("HSET", KEYS[1], "progress", ARGV[2])
rcall("XADD", KEYS[2], "MAXLEN", "~", cap, "*", "event", "progress",
  "jobId", ARGV[1], "data", ARGV[2])
return 0
