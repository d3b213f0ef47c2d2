/* Risk dashboard: active warnings by level (pie) and by monitor (bars),
 * raised and closed signals per week (lines), institutions with most
 * warnings (stacked bars by level). A click on any element opens the
 * signals it counts in sao: /#<db>/model/ct.risk.signal;domain=..&name=..
 */
(function() {
    'use strict';
    var data = null;

    // Four panels need more room than the default chart height.
    var container = document.getElementById('ct-chart');
    if (container) {
        container.style.minHeight = '760px';
    }

    function drillUrl(drill) {
        return data.sao_url +
            ';name=' + encodeURIComponent(JSON.stringify(drill.title)) +
            '&domain=' + encodeURIComponent(JSON.stringify(drill.domain));
    }

    function bindClicks() {
        var chart = echarts.getInstanceByDom(container);
        if (!chart || chart.__ctDrill) {
            return;
        }
        chart.__ctDrill = true;
        chart.on('click', function(params) {
            var drill = params.data && params.data.drill;
            if (drill) {
                window.open(drillUrl(drill), 'ct-sao');
            }
        });
    }

    // chart.js marks the page ready once the option is set.
    new MutationObserver(function() {
        if (document.body.getAttribute('data-ct-chart') === 'ready') {
            bindClicks();
        }
    }).observe(document.body, {attributes: true,
        attributeFilter: ['data-ct-chart']});

    CtChart.register('risk_dashboard', function(d) {
        data = d;
        var text = d.text;
        var titleStyle = {fontSize: 14};
        return {
            title: [
                {text: text.levels, left: '24%', top: 0,
                    textAlign: 'center', textStyle: titleStyle},
                {text: text.monitors, left: '74%', top: 0,
                    textAlign: 'center', textStyle: titleStyle},
                {text: text.trend, left: '24%', top: '51%',
                    textAlign: 'center', textStyle: titleStyle},
                {text: text.institutions, left: '74%', top: '51%',
                    textAlign: 'center', textStyle: titleStyle},
                {subtext: text.hint, right: 8, bottom: 0},
            ],
            tooltip: {trigger: 'item'},
            legend: [
                {data: [d.trend.names.raised, d.trend.names.closed],
                    left: '24%', top: '55%', textAlign: 'center'},
                {data: d.institutions.series.map(function(s) {
                    return s.name;
                }), left: '74%', top: '55%'},
            ],
            grid: [
                {left: '53%', right: 24, top: '6%', height: '38%',
                    containLabel: true},
                {left: 24, width: '42%', top: '60%', bottom: 32,
                    containLabel: true},
                {left: '53%', right: 24, top: '60%', bottom: 32,
                    containLabel: true},
            ],
            xAxis: [
                {gridIndex: 0, type: 'value', minInterval: 1},
                {gridIndex: 1, type: 'category', data: d.trend.categories,
                    boundaryGap: false},
                {gridIndex: 2, type: 'value', minInterval: 1},
            ],
            yAxis: [
                {gridIndex: 0, type: 'category', inverse: true,
                    data: d.monitors.map(function(m) {
                        return m.name;
                    })},
                {gridIndex: 1, type: 'value', minInterval: 1},
                {gridIndex: 2, type: 'category', inverse: true,
                    data: d.institutions.categories,
                    axisLabel: {width: 160, overflow: 'truncate'}},
            ],
            series: [{
                type: 'pie',
                radius: ['16%', '30%'],
                center: ['24%', '27%'],
                cursor: 'pointer',
                label: {formatter: '{b}\n{c}'},
                data: d.levels.map(function(l) {
                    return {name: l.name, value: l.value, drill: l.drill,
                        itemStyle: {color: l.color}};
                }),
            }, {
                type: 'bar',
                xAxisIndex: 0,
                yAxisIndex: 0,
                barMaxWidth: 22,
                itemStyle: {color: '#1f5f8b'},
                label: {show: true, position: 'right'},
                data: d.monitors.map(function(m) {
                    return {value: m.value, drill: m.drill};
                }),
            }, {
                name: d.trend.names.raised,
                type: 'line',
                xAxisIndex: 1,
                yAxisIndex: 1,
                symbolSize: 8,
                itemStyle: {color: '#d93025'},
                data: d.trend.raised,
            }, {
                name: d.trend.names.closed,
                type: 'line',
                xAxisIndex: 1,
                yAxisIndex: 1,
                symbolSize: 8,
                itemStyle: {color: '#3ba272'},
                data: d.trend.closed,
            }].concat(d.institutions.series.map(function(s) {
                return {
                    name: s.name,
                    type: 'bar',
                    stack: 'institution',
                    xAxisIndex: 2,
                    yAxisIndex: 2,
                    barMaxWidth: 18,
                    itemStyle: {color: s.color},
                    data: s.data,
                };
            })),
        };
    });
}());
