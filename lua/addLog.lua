-- addLog: append one line to a job's log, keeping the newest keepLogs lines
-- (PROTOCOL.md 4.1).
-- KEYS: 1 job key, 2 <jobKey>:logs
-- ARGV: 1 jobId, 2 line, 3 keepLogs or ""
-- Reply: number of lines now kept | -1 no such job
--@include core

if rcall("EXISTS", KEYS[1]) == 0 then return -1 end
local lines = rcall("RPUSH", KEYS[2], ARGV[2])
if ARGV[3] == "" then return lines end
local keep = tonumber(ARGV[3])
rcall("LTRIM", KEYS[2], -keep, -1)
if keep < lines then return keep end
return lines
