-- updateData: replace a job's data (PROTOCOL.md 4.1).
-- KEYS: 1 job key
-- ARGV: 1 data (JSON text)
-- Reply: 0 | -1 no such job
--@include core

if rcall("EXISTS", KEYS[1]) == 0 then return -1 end
rcall("HSET", KEYS[1], "data", ARGV[1])
return 0
