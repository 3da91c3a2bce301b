-- The referral matching rewrites a referral's findings (origin, completion) after the merge has
-- inserted it, in the same transaction, and again on later nights as completions arrive. None of
-- those columns is indexed, so the new version can stay on the row's page (a HOT update, with no
-- index entries) when the page has room: pages are filled to 70 % to keep some. On the
-- benchmark's night the matching's UPDATE of 24,054 new referrals took ≈ 0.1 s less (0.39 s
-- against 0.29 s). Rows written before this migration keep their full pages.
ALTER TABLE referral.referrals SET (fillfactor = 70);
