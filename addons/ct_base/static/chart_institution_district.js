/* Institutions by district and kind: a stacked bar per district. */
CtChart.register('institution_district', function(data) {
    'use strict';
    return {
        color: ['#1f5f8b', '#e78e42', '#3ba272', '#9a60b4'],
        tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
        legend: {top: 8},
        grid: {left: 48, right: 24, top: 56, bottom: 64},
        xAxis: {
            type: 'category',
            data: data.categories,
            axisLabel: {interval: 0, rotate: data.categories.length > 8 ? 30 : 0},
        },
        yAxis: {type: 'value', minInterval: 1},
        series: data.series.map(function(serie) {
            return {
                name: serie.name,
                type: 'bar',
                stack: 'kind',
                barMaxWidth: 48,
                emphasis: {focus: 'series'},
                label: {show: true, formatter: function(p) {
                    return p.value || '';
                }},
                data: serie.data,
            };
        }),
    };
});
