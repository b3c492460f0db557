-- seed.sql - the item catalogue. Safe to apply again (updates the rows it owns).
INSERT INTO items (item_id, stackable, usable, rewardable, description) VALUES
    ('welcome_chest', false, true,  true, 'opens into 3 keys and 100 gold'),
    ('key',           true,  true,  true, 'consumed when used'),
    ('gold',          true,  false, true, 'currency; cannot be used')
ON CONFLICT (item_id) DO UPDATE
    SET stackable = EXCLUDED.stackable, usable = EXCLUDED.usable,
        rewardable = EXCLUDED.rewardable, description = EXCLUDED.description;

DELETE FROM item_effects WHERE item_id IN ('welcome_chest', 'key', 'gold')
    AND (item_id, grant_item_id) NOT IN (('welcome_chest', 'key'), ('welcome_chest', 'gold'));
INSERT INTO item_effects (item_id, grant_item_id, quantity) VALUES
    ('welcome_chest', 'key', 3),
    ('welcome_chest', 'gold', 100)
ON CONFLICT (item_id, grant_item_id) DO UPDATE SET quantity = EXCLUDED.quantity;
