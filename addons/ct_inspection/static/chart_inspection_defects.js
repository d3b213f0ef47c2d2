/* Defects: a pie by severity and stacked bars of the most cited clauses. */
CtChart.register('inspection_defects', function(data) {
    'use strict';
    var colors = {critical: '#c23531', major: '#e6a23c', minor: '#5470c6'};
    return {
        title: [
            {text: data.text.severity, left: '22%', top: 4, textAlign: 'center',
                textStyle: {fontSize: 14}},
            {text: data.text.clauses, left: '70%', top: 4, textAlign: 'center',
                textStyle: {fontSize: 14}},
        ],
        tooltip: {trigger: 'item'},
        legend: {bottom: 4},
        grid: {left: '48%', right: 24, top: 40, bottom: 64},
        xAxis: {type: 'value', minInterval: 1},
        yAxis: {type: 'category', inverse: true, data: data.clauses.categories},
        series: [{
            type: 'pie',
            radius: ['30%', '55%'],
            center: ['22%', '52%'],
            label: {formatter: '{b}\n{c}'},
            data: data.severity.map(function(s) {
                return {name: s.name, value: s.value,
                    itemStyle: {color: colors[s.key]}};
            }),
        }].concat(data.clauses.series.map(function(serie) {
            return {
                name: serie.name,
                type: 'bar',
                stack: 'clause',
                barMaxWidth: 18,
                itemStyle: {color: colors[serie.key]},
                tooltip: {formatter: function(p) {
                    // The tooltip is HTML: escape the texts from the database
                    var esc = echarts.format.encodeHTML;
                    return esc(p.name + ' ' + (data.clauses.titles[p.dataIndex] || '')) +
                        '<br/>' + esc(p.seriesName) + ': ' + p.value;
                }},
                data: serie.data,
            };
        })),
    };
});
