-- Whether the page is flagged silent (reconciler/silence.py): its Graph activity leads its webhooks.
SELECT silent FROM pages WHERE page_id = $1
