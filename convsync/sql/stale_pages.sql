-- Pages registered earlier that this `convsync dev` run's emulator does not have.
SELECT page_id FROM pages WHERE page_id <> ALL($1::text[])
