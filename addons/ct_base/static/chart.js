/* Chart page runtime: fetch the data, let the chart's script build the
 * ECharts option, render it. A chart's script calls
 * CtChart.register(name, function(data, text) {return option;}). */
(function() {
    'use strict';
    var builders = {};
    window.CtChart = {
        register: function(name, builder) {
            builders[name] = builder;
        },
    };

    function status(message, error) {
        var el = document.getElementById('ct-chart-status');
        el.textContent = message || '';
        el.classList.toggle('ct-error', Boolean(error));
    }

    document.addEventListener('DOMContentLoaded', function() {
        var settings = JSON.parse(
            document.getElementById('ct-chart-settings').textContent);
        var text = settings.text;
        var builder = builders[settings.name];
        if (typeof echarts === 'undefined' || !builder) {
            status(text.error, true);
            return;
        }
        fetch(settings.data_url, {
            credentials: 'same-origin',
            headers: {'Accept': 'application/json'},
        }).then(function(response) {
            if (!response.ok) {
                throw new Error(response.status + ' ' + response.statusText);
            }
            return response.json();
        }).then(function(data) {
            var container = document.getElementById('ct-chart');
            var chart = echarts.init(container);
            chart.setOption(builder(data, text));
            window.addEventListener('resize', function() {
                chart.resize();
            });
            if (data.total === 0) {
                status(text.empty);
            } else if (data.total !== undefined) {
                status(text.total + ' ' + data.total);
            } else {
                status('');
            }
            document.body.setAttribute('data-ct-chart', 'ready');
        }).catch(function(error) {
            status(text.error + ' (' + error.message + ')', true);
            document.body.setAttribute('data-ct-chart', 'error');
        });
    });
}());
