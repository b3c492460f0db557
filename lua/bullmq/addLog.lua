-- addLog: append one line to a job's log, keeping the newest keepLogs lines
-- (docs/bullmq.md §4.14).
-- @key jobKey           key     the job's hash
-- @key logsKey          key     <jobKey>:logs
-- @arg jobId            str
-- @arg line             str
-- @arg keepLogs         str     how many lines to keep, or "" for all
-- Reply: number of lines now kept | -1 no such job
--@include core

if rcall("EXISTS", KEYS[1]) == 0 then return -1 end
local lines = rcall("RPUSH", KEYS[2], ARGV[2])
if ARGV[3] == "" then return lines end
local keep = tonumber(ARGV[3])
rcall("LTRIM", KEYS[2], -keep, -1)
if keep < lines then return keep end
return lines
