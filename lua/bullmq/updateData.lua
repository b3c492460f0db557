-- updateData: replace a job's data (docs/bullmq.md §4.15).
-- @key jobKey           key     the job's hash
-- @arg data             str     JSON text
-- Reply: 0 | -1 no such job
--@include core

if rcall("EXISTS", KEYS[1]) == 0 then return -1 end
rcall("HSET", KEYS[1], "data", ARGV[1])
return 0
