-- The earliest business date an extract may cover: a batch for an earlier night is refused at
-- creation (as is one for a night after tomorrow, in the region's time), so that a mistyped date
-- can neither load rows that every later correction would lose to (the newer row wins) nor
-- fill history nobody asked for.
INSERT INTO registry.settings (key, value, description) VALUES
    ('earliest_business_date', '"2010-01-01"',
     'Extracts for an earlier business date are refused when their batch is created.');
