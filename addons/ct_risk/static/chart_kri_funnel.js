/* Funnel plot of a KRI rule: each institution's ratio against its
 * denominator, with the city-wide ratio and the control limits at the
 * rule's medium and high z thresholds. The rule is the one named by
 * ?rule=<id> in the page URL (the rule form links to it), else the first;
 * a selector switches between the KRI rules the user may read. */
CtChart.register('kri_funnel', function(data) {
    'use strict';
    var text = data.text;
    var rules = data.rules || [];
    var wanted = new URLSearchParams(window.location.search).get('rule');
    var rule = rules.filter(function(r) {
        return String(r.id) === wanted;
    })[0] || rules[0];

    var main = document.querySelector('.ct-main');
    if (main && rules.length && !document.getElementById('ct-kri-rule')) {
        var label = document.createElement('label');
        label.textContent = text.rule + ' ';
        var select = document.createElement('select');
        select.id = 'ct-kri-rule';
        rules.forEach(function(r) {
            var option = document.createElement('option');
            option.value = r.id;
            option.textContent = r.name + ' — ' + r.kri_label;
            option.selected = rule && r.id === rule.id;
            select.appendChild(option);
        });
        select.addEventListener('change', function() {
            window.location.search = '?rule=' + select.value;
        });
        label.appendChild(select);
        main.insertBefore(label, main.firstChild);
    }
    if (!rule) {
        data.total = 0;
        return {title: {text: text.none, left: 'center', top: 'middle'}};
    }
    data.total = rule.points.length;

    var colors = {high: '#c23531', medium: '#e6a23c'};
    var digits = rule.kind === 'proportion' ? 3 : 2;
    function line(key) {
        return rule.limits.map(function(l) {
            return [l.n, l[key]];
        });
    }
    function limit(name, key, color) {
        return {
            name: name,
            type: 'line',
            showSymbol: false,
            smooth: true,
            silent: true,
            lineStyle: {type: 'dashed', color: color, width: 1},
            itemStyle: {color: color},
            data: line(key),
        };
    }
    var xs = rule.limits.map(function(l) {
        return l.n;
    });
    var first = xs.length ? xs[0] : 0;
    var last = xs.length ? xs[xs.length - 1] : 1;
    return {
        title: {
            text: rule.name,
            subtext: rule.kri_label + ' · ' + text.overall + ' ' +
                rule.overall.toFixed(digits) + ' · φ ' + rule.phi.toFixed(2),
            left: 'center',
        },
        tooltip: {
            trigger: 'item',
            formatter: function(p) {
                if (p.seriesIndex !== 0) {
                    return '';
                }
                var v = p.value;
                // HTML tooltip: escape the institution name
                return echarts.format.encodeHTML(v[2]) + '<br/>' + text.denominator + ': ' + v[0] +
                    '<br/>' + text.value + ': ' + v[1].toFixed(digits) +
                    ' (' + v[4] + '/' + v[0] + ')<br/>z = ' +
                    v[3].toFixed(2);
            },
        },
        legend: {bottom: 4},
        grid: {left: 64, right: 32, top: 72, bottom: 72},
        xAxis: {type: 'value', name: text.denominator, nameLocation: 'middle',
            nameGap: 28, min: 0},
        yAxis: {type: 'value', name: text.value, min: 0},
        series: [{
            name: text.institutions,
            type: 'scatter',
            symbolSize: 9,
            data: rule.points.map(function(p) {
                return {
                    value: [p.denominator, p.value, p.name, p.z,
                        p.numerator],
                    itemStyle: {color: colors[p.level] || '#5470c6'},
                };
            }),
        }, {
            name: text.overall,
            type: 'line',
            showSymbol: false,
            silent: true,
            lineStyle: {color: '#333', width: 1},
            itemStyle: {color: '#333'},
            data: [[first, rule.overall], [last, rule.overall]],
        },
        limit(text.limit2, 'upper2', colors.medium),
        limit(text.limit2, 'lower2', colors.medium),
        limit(text.limit3, 'upper3', colors.high),
        limit(text.limit3, 'lower3', colors.high)],
    };
});
