# Routes register themselves on import; the models are listed in tryton.cfg.
