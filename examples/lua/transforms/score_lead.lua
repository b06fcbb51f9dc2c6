-- score_lead: scores a lead from 0 to 100 and gives it a tier.
--
-- Input: a lead record. Fields used (all optional): crmScore (0–100, the
-- CRM's own score), source, phone, email. Output: the record with `score`
-- (0–100, an integer) and `tier` ("hot", "warm" or "cold") added.
--
-- Config (ctx.config, all optional):
--   sources   points per lead source, replacing the defaults below
--   hot       the lowest score of a hot lead (default 70)
--   warm      the lowest score of a warm lead (default 40)
--
-- The score is half the CRM score, plus the source's points, plus 10 for a
-- phone number and 10 for an e-mail address at a company domain (not a free
-- mail provider), capped at 100.
local config = ctx.config or {}
local sources = config.sources or {referral = 30, partner = 25, web = 15, ads = 5}
local hot, warm = config.hot or 70, config.warm or 40
local freeMail = {
  ["gmail.com"] = true, ["googlemail.com"] = true, ["yahoo.com"] = true,
  ["hotmail.com"] = true, ["outlook.com"] = true, ["icloud.com"] = true,
  ["aol.com"] = true, ["proton.me"] = true, ["gmx.net"] = true,
}

local function present(v)
  return v ~= nil and v ~= json.null and v ~= ""
end

local score = 0
if type(input.crmScore) == "number" then
  score = score + math.max(0, math.min(100, input.crmScore)) / 2
end
score = score + (sources[string.lower(tostring(input.source or ""))] or 0)
if present(input.phone) then
  score = score + 10
end
if present(input.email) then
  local domain = string.match(string.lower(input.email), "@([^@]+)$")
  if domain and not freeMail[domain] then
    score = score + 10
  end
end
score = math.floor(math.min(score, 100) + 0.5)

input.score = score
if score >= hot then
  input.tier = "hot"
elseif score >= warm then
  input.tier = "warm"
else
  input.tier = "cold"
end
return input
