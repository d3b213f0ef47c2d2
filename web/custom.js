/* Branding of 药物临床试验大数据监管平台.
 *
 * sao's index.html loads custom.js right after dist/tryton-sao.js and before
 * the page is ready, so the hooks below are in place before Sao.login()
 * builds the login dialog. tools/install-web copies this file into sao's
 * root; sao's own files are never edited.
 */
(function() {
    'use strict';
    var PLATFORM = '药物临床试验大数据监管平台';
    var CENTER = '上海药品审评核查中心';

    // Sao.set_title() writes "<tab> - Sao.config.title" into the window
    // title and Sao.config.title into the top bar (#title).
    Sao.config.title = PLATFORM;
    document.title = PLATFORM;
    jQuery(function() {
        jQuery('#title').text(PLATFORM);
    });

    var login_dialog = Sao.Session.login_dialog;
    Sao.Session.login_dialog = function() {
        var dialog = login_dialog.apply(this, arguments);
        dialog.modal.addClass('ct-login');
        dialog.header.find('.modal-title small').remove();
        dialog.body.prepend(jQuery('<div/>', {
            'class': 'ct-login-brand',
        }).append(jQuery('<div/>', {
            'class': 'ct-login-center',
        }).text(CENTER)).append(jQuery('<div/>', {
            'class': 'ct-login-platform',
        }).text(PLATFORM)));
        return dialog;
    };
}());
